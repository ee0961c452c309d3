"""The NumPy engine: layers, losses, optimizers, networks and VGG.

Importing it has no side effects; it never imports Streamlit or Plotly.
"""
