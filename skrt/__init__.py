"""skrt: regression models with a sense of curiosity.

Regularity tangents, exact leave-one-out and active-learning scores for
scikit-learn regressors.
"""

from ._kernel import RegularityKernelRidge
from ._ridge import RegularityRidge
from ._sgdf import SGDFRegressor

__all__ = ["RegularityKernelRidge", "RegularityRidge", "SGDFRegressor", "__version__"]
__version__ = "0.1.0"
