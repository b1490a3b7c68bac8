"""The claim language: the claim models (`schema`), loading claim files (`load`), the cross-file
rules (`checks`), warnings (`lints`), judging measurements (`judge`) and the fingerprint."""
