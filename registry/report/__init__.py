"""`registry report`: a static site of the evidence (claims x runs, one page per claim with plots).

Needs the `report` extra (plotly's bundled JS, tsdownsample); imported only by that command."""
