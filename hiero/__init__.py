"""hiero: hierarchical supervision of LLM reasoning (HRM reward models, HiPO preference optimization)."""

__version__ = "0.1.0"
