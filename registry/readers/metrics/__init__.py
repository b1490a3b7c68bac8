"""Metric tables: `table` (MetricsTable, and which reader reads which format), `source` (the column
source interface), one module per format (`csv`, `jsonl`, `parquet`, `tensorboard`, `mlflow`, `hf`,
`lightning`, `wandb`), and `rows` (training logs as rows, joined on step)."""
