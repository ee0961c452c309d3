"""Saliency maps drawn over the photo they explain."""

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sequential

# Sequential, because a map in [0, 1] has no sign. Plotly's Inferno starts
# at #000004, one of the colours #000001 to #0000xx that Streamlit's Plotly
# theme (1.67) replaces with theme colours, which drew 0 pale pink. Pure
# black in its place looks the same and is left alone.
HEAT_SCALE = ["#000000", *sequential.Inferno[1:]]


def overlay_figure(rgb: np.ndarray, heatmap: np.ndarray, opacity: float,
                   title: str = "", height: int = 400) -> go.Figure:
    """Draw a map in [0, 1] as a semi-transparent heatmap over an RGB photo.

    `rgb` is uint8 `(H, W, 3)` and `heatmap` is `(H, W)`, on the same
    pixels. `opacity` in [0, 1] sets how much of the map covers the photo:
    0 shows the photo alone and 1 the map alone. The colour scale is fixed
    to [0, 1], so an all-zero map draws in the lowest colour.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {rgb.shape}")
    if heatmap.shape != rgb.shape[:2]:
        raise ValueError(f"expected a heatmap of shape {rgb.shape[:2]}, "
                         f"got {heatmap.shape}")
    if not 0 <= opacity <= 1:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")

    figure = go.Figure(go.Image(z=rgb, hoverinfo="skip"))
    figure.add_trace(go.Heatmap(
        z=heatmap,
        zmin=0,
        zmax=1,
        colorscale=HEAT_SCALE,
        opacity=opacity,
        colorbar={"thickness": 12, "len": 0.8},
        hovertemplate="row %{y}, column %{x}<br>map %{z:.2f}<extra></extra>",
    ))

    # Square pixels with row 0 at the top, as in the photo.
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x",
                        constrain="domain")
    figure.update_layout(title={"text": title, "font": {"size": 15}},
                         height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure
