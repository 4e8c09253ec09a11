"""`python -m searnn_ext` prints how the extension was built."""

from searnn_ext import build_info

for key, value in build_info().items():
    print(f"{key}: {value}")
