"""The daily quality-report function: the model measured by its reviews, written and announced."""
