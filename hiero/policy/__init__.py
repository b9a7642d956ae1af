"""Policy models and generation: tokenizer + tiny LM + SFT, and the hf / openai / vllm backends.

    from hiero.policy import load_generator, evaluate_accuracy
    gen = load_generator("runs/policy")        # or "openai:URL#MODEL", "vllm:DIR"
    gen.generate(prompts, n=5, max_new_tokens=64, stop=["\\n"], temperature=0.7, seed=0)

Training lives in hiero.policy.sft (`main(PolicyTrainConfig)`), imported on demand.
"""

from hiero.policy.backend import Completion, Generator
from hiero.policy.generators import evaluate_accuracy, load_generator

__all__ = ["Completion", "Generator", "evaluate_accuracy", "load_generator"]
