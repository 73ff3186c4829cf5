"""Pins the parts of modAL curate relies on against the installed scikit-learn.

modAL-python 0.4.2.1's ActiveLearner breaks on scikit-learn >= 1.8 (check_X_y lost
force_all_finite), so curate calls only modAL's sampling and disagreement functions with
plain fitted estimators. If a modAL or scikit-learn release breaks those, this fails.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import entropy
from sklearn.linear_model import LogisticRegression

from curate.active.strategies import FittedCommittee


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 5))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    return X, y


def test_uncertainty_functions_accept_plain_fitted_estimators():
    from modAL.uncertainty import entropy_sampling, margin_sampling, uncertainty_sampling

    X, y = _data()
    model = LogisticRegression(max_iter=1000).fit(X[:60], y[:60])
    proba = model.predict_proba(X[60:])
    top = np.sort(proba, axis=1)
    expected = {
        uncertainty_sampling: 1 - top[:, -1],
        margin_sampling: -(top[:, -1] - top[:, -2]),
        entropy_sampling: entropy(proba.T),
    }
    for function, score in expected.items():
        index, values = function(model, X[60:], n_instances=5)
        assert set(np.asarray(index).tolist()) == set(np.argsort(-score)[:5].tolist()), function.__name__


def test_disagreement_functions_accept_the_committee_adapter():
    from modAL.disagreement import KL_max_disagreement, vote_entropy

    X, y = _data()
    members = [LogisticRegression(C=c, max_iter=1000).fit(X[i * 20:i * 20 + 40], y[i * 20:i * 20 + 40])
               for i, c in enumerate((0.01, 1.0, 100.0))]
    committee = FittedCommittee(members, np.unique(y))
    votes = committee.vote(X)
    p_vote = np.stack([(votes == c).mean(axis=1) for c in committee.classes_], axis=1)
    np.testing.assert_allclose(vote_entropy(committee, X), entropy(p_vote.T))
    proba = committee.vote_proba(X)
    consensus = proba.mean(axis=1)
    kl = np.stack([entropy(proba[:, m].T, consensus.T) for m in range(3)], axis=1).max(axis=1)
    np.testing.assert_allclose(KL_max_disagreement(committee, X), kl)


def test_modal_active_learner_state_is_known():
    """Documents why curate avoids ActiveLearner.teach: if this starts passing, reconsider."""
    import pytest
    import sklearn
    from modAL.models import ActiveLearner

    X, y = _data()
    learner = ActiveLearner(estimator=LogisticRegression(), X_training=X[:30], y_training=y[:30])
    major, minor = (int(p) for p in sklearn.__version__.split(".")[:2])
    if (major, minor) >= (1, 8):
        with pytest.raises(TypeError, match="force_all_finite"):
            learner.teach(X[30:40], y[30:40])
