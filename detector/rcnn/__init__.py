"""The R-CNN-style region detector: box coding, proposal labelling and sampling, context warping,
the region classifier (``rcnn`` and ``fast`` modes), post-processing, training and ensembles."""
