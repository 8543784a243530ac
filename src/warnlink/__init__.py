"""WarnLink: allied missile-warning sharing, public alerting and exercises."""

__version__ = "0.1.0"
