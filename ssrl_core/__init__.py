"""ssrl_core: self-supervised representation learning for microscopy.

The augmentation recipe is a hidden form of supervision: it decides what the representation
encodes (Bendidi et al., "Exploring self-supervised learning biases for microscopy image
representation", Biological Imaging 2024). This package does the work; the Streamlit app
(`app.py`, `pages/`) and the `ssrl` command line call the same functions.
"""

__version__ = "0.1.0"
