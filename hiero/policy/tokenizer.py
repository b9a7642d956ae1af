"""Byte-level BPE tokenizer for the embedded policy, trained with `tokenizers` on the domain text.

    tok = train_tokenizer(texts, vocab_size=512)     # -> transformers PreTrainedTokenizerFast
    tok.save_pretrained(DIR); AutoTokenizer.from_pretrained(DIR)   # loads it back

Design:
  * Byte-level (GPT-2 style): any text round-trips, including characters never seen in training.
  * Digits are split one per token (`Digits(individual_digits=True)` before the byte-level split),
    so "12 + 35" is "1","2"," ","+"," ","3","5"; arithmetic then operates on digit tokens the model
    can learn, instead of on arbitrary multi-digit merges.
  * A newline is always its own pre-token, so tokenizing prompt and steps separately gives the same
    ids as tokenizing them joined: the SFT prompt/target boundary and the tree search's
    "prompt + finished steps" prefixes are tokenized exactly as the model saw them in training.
  * Special tokens: EOS_TOKEN ends a solution; PAD_TOKEN pads. No BOS (Qwen2 convention).
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"
SPECIAL_TOKENS = [EOS_TOKEN, PAD_TOKEN]


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = 512, min_frequency: int = 2
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `texts` and wrap it for transformers.

    The 256 byte symbols and the special tokens are always in the vocabulary, so `vocab_size`
    must exceed 258; the merges fill the rest (fewer if the text does not support them).

    >>> tok = train_tokenizer(["7 + 15 = 22", "The answer is 22"] * 20, vocab_size=300)
    >>> tok.convert_ids_to_tokens(tok("15")["input_ids"])
    ['1', '5']
    >>> tok.decode(tok("café 12×3")["input_ids"])
    'café 12×3'
    """
    if vocab_size <= 256 + len(SPECIAL_TOKENS):
        raise ValueError(
            f"vocab_size must be > {256 + len(SPECIAL_TOKENS)} (bytes + special tokens), got {vocab_size}"
        )
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = _pre_tokenizer()
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return wrap(tok)


def wrap(tok: Tokenizer) -> PreTrainedTokenizerFast:
    """A `tokenizers.Tokenizer` as a transformers tokenizer with our special tokens set."""
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS_TOKEN, pad_token=PAD_TOKEN,
        padding_side="left",  # generation pads on the left; the SFT collate pads by hand
        model_max_length=4096,
    )
