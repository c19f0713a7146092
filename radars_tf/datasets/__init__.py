"""TFDS builders the project ships for data that can be had offline."""
