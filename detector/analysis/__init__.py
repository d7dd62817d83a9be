"""Why a detector falls short: error analysis of detections against ground truth.

- :mod:`.groups`: which classes count as "similar" (R-CNN's VOC groups, COCO's supercategories,
  a ``--groups`` file, or none).
- :mod:`.fp_types`: each detection typed as Hoiem et al.'s Cor, Loc, Sim, Oth or BG, and the
  shares of each type among the top-scored detections as their number grows (R-CNN's plot).
- :mod:`.confusion`: the confusion matrix of classes plus background.
"""
