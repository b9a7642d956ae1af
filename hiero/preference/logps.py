"""Model -> per-segment log-prob sums, in one forward pass over chosen and rejected together.

    segment_logps(model, input_ids, attention_mask, segment_ids, n_segments)
        input_ids, attention_mask : (N, T) long   (a pair batch is [chosen_1…chosen_B, rejected_1…rejected_B])
        segment_ids               : (N, T) long   (IGNORE_INDEX prompt/pad, -1 other completion token, k
                                                  segment)
        returns sums (N, K+1) float32 (K segments, then the whole completion) and counts (N, K+1) long

Only the log-probs of the TAKEN tokens are computed: the LM head is applied to the completion
positions only (prompt and padding positions never reach it), in chunks of `chunk_size` rows, as
``logit[taken] − logsumexp(logits)`` in fp32, so no full-vocabulary log-softmax is ever kept.
Per-segment sums are one ``scatter_add`` over segment ids, so HiPO costs what DPO costs.

Departures from the authors' code: they ran four forward passes per step (policy and reference, each
for chosen and rejected, full-vocabulary cross-entropy, pad tokens counted); here one pass per model
over both sides, pads excluded, and the reference is usually read from a cache (train.py).
"""

from __future__ import annotations

import inspect

import torch

from hiero.types import IGNORE_INDEX


def taken_logps(logits: torch.Tensor, labels: torch.Tensor, chunk_size: int = 2048) -> torch.Tensor:
    """log p(label) for each row: logits (M, V), labels (M,) -> (M,) float32, computed in chunks.

    >>> lp = taken_logps(torch.tensor([[0.0, 0.0], [2.0, 0.0]]), torch.tensor([1, 0]))
    >>> [round(x, 4) for x in lp.tolist()]   # log 1/2, log e²/(e²+1)
    [-0.6931, -0.1269]
    """
    out = []
    for s in range(0, logits.shape[0], chunk_size):
        chunk = logits[s:s + chunk_size].float()
        lab = labels[s:s + chunk_size]
        out.append(chunk.gather(-1, lab[:, None]).squeeze(-1) - torch.logsumexp(chunk, dim=-1))
    return torch.cat(out) if out else logits.new_zeros(0, dtype=torch.float32)


def _head_only_ok(model) -> bool:
    """Can we run the decoder and apply the LM head ourselves? Not for models that post-process
    logits (soft-capping, logit scaling), where the full forward is used instead."""
    cfg = getattr(model, "config", None)
    return (
        hasattr(model, "get_decoder")
        and model.get_output_embeddings() is not None
        and not getattr(cfg, "final_logit_softcapping", None)
        and getattr(cfg, "logit_scale", None) is None
    )


def segment_logps(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, segment_ids: torch.Tensor,
                  n_segments: int, chunk_size: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-segment and whole-completion log-prob sums (see the module doc for shapes)."""
    # position t predicts token t+1: read hidden/logits at t where token t+1 is a completion token
    target_seg = segment_ids[:, 1:]
    keep = target_seg != IGNORE_INDEX  # (N, T-1)
    rows, cols = keep.nonzero(as_tuple=True)
    labels = input_ids[:, 1:][rows, cols]
    if _head_only_ok(model):
        hidden = model.get_decoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        sel = hidden[:, :-1][rows, cols]  # (M, d): completion positions only
        head = model.get_output_embeddings()
        lp = torch.cat([taken_logps(head(sel[s:s + chunk_size]), labels[s:s + chunk_size], chunk_size)
                        for s in range(0, sel.shape[0], chunk_size)]) if sel.shape[0] else sel.new_zeros(0)
    else:
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
        lp = taken_logps(logits[:, :-1][rows, cols], labels, chunk_size)
    return scatter_segments(lp.float(), rows, target_seg[rows, cols], input_ids.shape[0], n_segments)


def scatter_segments(lp: torch.Tensor, rows: torch.Tensor, seg: torch.Tensor, n_rows: int,
                     n_segments: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum token log-probs per (row, segment): lp (M,), rows (M,), seg (M,) in {-1, 0..K-1}.

    Returns sums (n_rows, K+1) and counts (n_rows, K+1); column K sums every completion token
    (segment or not), i.e. the whole-response log-prob.

    >>> s, c = scatter_segments(torch.tensor([-1., -2., -4.]), torch.tensor([0, 0, 0]),
    ...                         torch.tensor([0, -1, 1]), 1, 2)
    >>> s.tolist(), c.tolist()
    ([[-1.0, -4.0, -7.0]], [[1, 1, 3]])
    """
    width = n_segments + 1  # segments + an "other" bucket for tokens in no segment
    col = torch.where(seg < 0, torch.full_like(seg, n_segments), seg)
    flat = rows * width + col
    sums = lp.new_zeros(n_rows * width).scatter_add(0, flat, lp).view(n_rows, width)
    counts = torch.zeros(n_rows * width, dtype=torch.long, device=lp.device)
    counts = counts.scatter_add(0, flat, torch.ones_like(flat)).view(n_rows, width)
    full = lp.new_zeros(n_rows).scatter_add(0, rows, lp)
    sums = torch.cat([sums[:, :n_segments], full[:, None]], dim=1)
    counts = torch.cat([counts[:, :n_segments], counts.sum(dim=1, keepdim=True)], dim=1)
    return sums, counts


def segment_logps_shared_prompt(
    model,
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    resp_ids: torch.Tensor,
    resp_mask: torch.Tensor,
    resp_seg: torch.Tensor,
    n_segments: int,
    chunk_size: int = 2048,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`segment_logps` of a pair batch, running each shared prompt once instead of twice.

    prompt_ids, prompt_mask        (B, P) long, LEFT-padded: every prompt ends at column P-1
    resp_ids, resp_mask, resp_seg  (2B, R) long, RIGHT-padded, rows [chosen_1…chosen_B,
                                   rejected_1…rejected_B];
                                   resp_seg holds each response token's segment id (-1: none),
                                   IGNORE_INDEX on padding
    returns sums (2B, K+1) float32 and counts (2B, K+1) long, as `segment_logps`

    The prompt runs once (with gradient) and its KV cache is given to both responses: chosen and
    rejected of a pair attend to the very same prompt keys and values they would compute alone,
    so the log-probs are the ones of two separate passes (tests/preference/test_po_shared_prompt.py),
    while the prompt's layers run B instead of 2B times. Response token 0 is predicted by the last
    prompt position, token t > 0 by response position t-1. Positions are explicit (mask cumsum),
    so left padding does not shift them.
    """
    decoder, head = model.get_decoder(), model.get_output_embeddings()
    b, p = prompt_ids.shape
    pos = (prompt_mask.cumsum(1) - 1).clamp(min=0)
    out = decoder(input_ids=prompt_ids, attention_mask=prompt_mask, position_ids=pos, use_cache=True)
    cache = out.past_key_values
    both = torch.cat([torch.arange(b, device=prompt_ids.device)] * 2)
    cache.batch_select_indices(both)  # prompt i serves chosen i and rejected i
    mask = torch.cat([prompt_mask[both], resp_mask], dim=1)
    pos = (mask.cumsum(1) - 1).clamp(min=0)[:, p:]
    # transformers >= 5.2x names the cache argument `cache`; older models take `past_key_values`
    cache_arg = "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"
    hidden = decoder(input_ids=resp_ids, attention_mask=mask, position_ids=pos, use_cache=True,
                     **{cache_arg: cache}).last_hidden_state  # (2B, R, d)
    # the state that predicts response token t: last prompt state for t = 0, response state t-1 after
    pred = torch.cat([out.last_hidden_state[both, -1:], hidden[:, :-1]], dim=1)
    rows, cols = (resp_seg != IGNORE_INDEX).nonzero(as_tuple=True)
    sel, labels = pred[rows, cols], resp_ids[rows, cols]
    lp = torch.cat([taken_logps(head(sel[s:s + chunk_size]), labels[s:s + chunk_size], chunk_size)
                    for s in range(0, sel.shape[0], chunk_size)]) if sel.shape[0] else sel.new_zeros(0)
    return scatter_segments(lp.float(), rows, resp_seg[rows, cols], resp_ids.shape[0], n_segments)


def can_share_prompt(model) -> bool:
    """The shared-prompt pass needs the bare decoder + LM head and a KV cache that can be re-indexed."""
    return _head_only_ok(model)
