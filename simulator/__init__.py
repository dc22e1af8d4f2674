"""infogap: an agent-based market simulator of information asymmetry, trust and churn."""

#: Model version; part of every sweep run's key, so bump it when results change.
__version__ = "0.1.0"
