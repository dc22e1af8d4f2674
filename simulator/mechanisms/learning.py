"""How sellers learn a strategy from profit: epsilon-greedy action values.

Each seller keeps, per decision, the value of each action: an exponentially
weighted average of the profit it made in the steps it took that action.
Each step it takes the action with the highest value, or with probability
`exploration` a random one; exploration fades with experience (halving after
`halving` steps in the market), as it does in standard learning models. Values start at 0, ties go to the first action
(the honest / no-frills default), so a strategy must earn its place.
"""

from __future__ import annotations

import numpy as np


class ActionLearner:
    def __init__(self, n_actions: int, rate: float, exploration: float, halving: int = 0):
        self.n_actions = n_actions
        self.rate = rate
        self.exploration = exploration
        self.halving = halving
        self.values = np.zeros((0, n_actions))
        self.tried = np.zeros((0, n_actions), dtype=bool)
        self.action = np.zeros(0, dtype=np.int64)

    def _ensure(self, size: int) -> None:
        if size > len(self.values):
            extra = size - len(self.values)
            self.values = np.vstack([self.values, np.zeros((extra, self.n_actions))])
            self.tried = np.vstack([self.tried, np.zeros((extra, self.n_actions), dtype=bool)])
            self.action = np.concatenate([self.action, np.zeros(extra, dtype=np.int64)])

    def choose(self, rows: np.ndarray, rng: np.random.Generator,
               age: np.ndarray | None = None) -> np.ndarray:
        self._ensure(int(rows.max()) + 1 if len(rows) else 0)
        best = self.values[rows].argmax(axis=1)
        eps = self.exploration
        if self.halving > 0 and age is not None:
            eps = eps * self.halving / (self.halving + age)
        explore = rng.random(len(rows)) < eps
        random_action = rng.integers(self.n_actions, size=len(rows))
        chosen = np.where(explore, random_action, best)
        self.action[rows] = chosen
        return chosen

    def force(self, rows: np.ndarray, action: int) -> None:
        """A fixed strategy (a mandate or a scenario's choice): no learning."""
        self._ensure(int(rows.max()) + 1 if len(rows) else 0)
        self.action[rows] = action

    def update(self, rows: np.ndarray, profit: np.ndarray) -> None:
        a = self.action[rows]
        first = ~self.tried[rows, a]
        old = self.values[rows, a]
        # The first profit seen for an action is its value; after that, a moving average.
        self.values[rows, a] = np.where(first, profit, old + self.rate * (profit - old))
        self.tried[rows, a] = True
