"""Home page: what the explainer shows and how to move through it."""

import streamlit as st

st.set_page_config(page_title="Neural networks, inside", layout="wide")

st.title("Neural networks, inside")
st.markdown(
    "This app opens up neural networks so that you can watch every number. "
    "Nothing here is a cartoon: each value on screen comes from a small "
    "NumPy engine that computes the network step by step, and each page "
    "writes out the formulas with the numbers of the example in front of you."
)

st.subheader("How to use it")
st.markdown(
    "Pick a page in the sidebar, or follow the tour below in order. Each "
    "page has its controls in the sidebar; change them and every chart and "
    "formula updates at once. Hover over a chart to read exact values."
)
st.latex(r"Z^{[l]} = W^{[l]} A^{[l-1]} + b^{[l]} \qquad A^{[l]} = g^{[l]}(Z^{[l]})")
st.caption(
    "The notation used on every page: layer l multiplies the previous "
    "layer's activations by its weights W, adds its bias b, and applies its "
    "activation function g. The cost is J, and dW is short for ∂J/∂W."
)

st.subheader("The tour")
left, middle, right = st.columns(3)
with left:
    st.markdown("#### 1. Forward propagation")
    st.markdown(
        "Set the inputs of a small network with sliders and follow them "
        "through each layer: the weighted sum, the activation, and a diagram "
        "coloured by the values. See why a network without non-linear "
        "activations is only one matrix in disguise."
    )
    st.page_link("pages/1_Forward_propagation.py", label="Open forward propagation")
with middle:
    st.markdown("#### 2. Backpropagation")
    st.markdown(
        "Give the network a target and step backwards through the chain "
        "rule, one operation at a time, from the cost to every weight. Each "
        "gradient is checked against a numerical estimate, and the last step "
        "takes one step of gradient descent."
    )
    st.page_link("pages/2_Backpropagation.py", label="Open backpropagation")
with right:
    st.markdown("#### 3. VGG16")
    st.markdown(
        "Feed a photo to VGG16, a 16-layer convolutional network with 138 "
        "million parameters, and look at what each convolution and pooling "
        "layer makes of it, channel by channel."
    )
    st.page_link("pages/3_VGG16.py", label="Open VGG16")
