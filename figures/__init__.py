"""Plotly figure builders and LaTeX formatters for engine results.

Nothing here imports Streamlit, so every figure can be built in a test.
"""
