"""Market mechanisms that close (or exploit) the information gap (MODEL.md section 3).

Each module holds one mechanism's rules over the model's arrays; the model
calls them at fixed points of its step, only when the scenario enables them.
Seller-side choices (certify, disclose, offer a warranty, inflate claims,
shirk) are learned from profit by one shared rule (`learning.ActionLearner`).
"""
