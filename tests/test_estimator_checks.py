"""scikit-learn's estimator contract, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skrt import MultiUserRegularity, RegularityLasso, RegularityRidge


@parametrize_with_checks(
    [
        RegularityRidge(),
        RegularityRidge(alpha="loo"),
        RegularityRidge(alpha="gcv", solver="svd"),
        RegularityRidge(alpha="gcv", solver="cg", tol=1e-10, random_state=0),
        MultiUserRegularity(),
        MultiUserRegularity(alpha=1.0, user_alpha="loo"),
        MultiUserRegularity(alpha=1.0, penalty="l1"),
        RegularityLasso(),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
