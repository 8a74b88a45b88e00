"""skrt: regression models with a sense of curiosity.

Regularity tangents, exact leave-one-out and active-learning scores for
scikit-learn regressors.

The distribution is named ``scikit-regularity``; the module and the command
are ``skrt``.
"""

# the single version source: pyproject.toml reads it
# ([tool.setuptools.dynamic]), so the installed metadata agrees with it
__version__ = "0.1.0"

from ._kernel import RegularityKernelRidge
from ._lasso import RegularityLasso
from ._ridge import RegularityRidge, prior_from
from ._sgdf import SGDFRegressor
from ._users import MultiUserRegularity

__all__ = [
    "MultiUserRegularity",
    "RegularityKernelRidge",
    "RegularityLasso",
    "RegularityRidge",
    "SGDFRegressor",
    "__version__",
    "prior_from",
]
