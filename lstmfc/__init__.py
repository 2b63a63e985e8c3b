"""lstmfc: forecast financial time series with Keras LSTM networks.

Only the version lives here so that ``lstmfc --help`` stays fast: no pandas,
NumPy or TensorFlow is imported by importing the package.
"""

__version__ = "0.1.0"
