"""Home page: what the explainer shows and how to move through it."""

import streamlit as st

import allocator

st.set_page_config(page_title="Neural networks, inside", layout="wide")
allocator.start_trimming()

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
st.markdown(
    "The first three pages follow one story: a network computes, learns, "
    "then a real one looks at a photo. The other three go deeper into "
    "training and into convolutions."
)

TOUR = [
    ("pages/1_Forward_propagation.py", "1. Forward propagation",
     "Set the inputs of a small network with sliders and follow them "
     "through each layer: the weighted sum, the activation, and a diagram "
     "coloured by the values. See why a network without non-linear "
     "activations is only one matrix in disguise."),
    ("pages/2_Backpropagation.py", "2. Backpropagation",
     "Give the network a target and step backwards through the chain rule, "
     "one operation at a time, from the cost to every weight. Each gradient "
     "is checked against a numerical estimate, and the last step takes one "
     "step of gradient descent."),
    ("pages/3_VGG16.py", "3. VGG16",
     "Feed a photo to VGG16, a 16-layer convolutional network with 138 "
     "million parameters, and look at what each convolution and pooling "
     "layer makes of it, channel by channel, and at what it predicts."),
    ("pages/4_Training.py", "4. Training playground",
     "Train a network on a toy dataset and watch the loss, the decision "
     "boundary and the gradient of every layer as it learns; rewind to any "
     "epoch, and see vanishing gradients happen."),
    ("pages/5_Convolution.py", "5. Convolution",
     "Take a convolution apart: slide a kernel over a grid or a photo one "
     "position at a time, then follow ReLU, max pooling and the backward "
     "pass that trains the kernel."),
    ("pages/6_Tiny_VGG.py", "6. Tiny VGG",
     "A small VGG-style network trained here, by this app's engine, on "
     "shapes: make a shape, see its prediction and every learned kernel and "
     "feature map, and retrain it."),
]

for row in range(0, len(TOUR), 3):
    for column, (path, title, text) in zip(st.columns(3), TOUR[row:row + 3]):
        with column:
            st.markdown(f"#### {title}")
            st.markdown(text)
            st.page_link(path, label=f"Open {title.split('. ', 1)[1]}")
