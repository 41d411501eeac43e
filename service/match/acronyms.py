"""Acronyms and their long forms, so "RNN" finds "recurrent neural networks" and
"click-through rate" finds "CTR".

Two sources: a short list of established machine-learning acronyms, and the definitions the
recent papers themselves write ("Galaxy Spectra neural Networks (GaSNets)"). An acronym only
expands when typed as one (two or more capitals: "RNN", "ViT"); a lower-case word stays a word.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from service.match.compile import TextTerm, Variant, acronym_of
from service.match.index import definitions
from service.match.text import analyze, stem

Acronyms = Mapping[str, frozenset[tuple[str, ...]]]  # "rnn" -> {("recurr", "neural", "network")}

_KNOWN = """
ai artificial intelligence; ml machine learning; dl deep learning;
nlp natural language processing; cv computer vision; rl reinforcement learning;
rlhf reinforcement learning from human feedback; llm large language model;
lm language model; vlm vision-language model; mllm multimodal large language model;
cnn convolutional neural network; rnn recurrent neural network; lstm long short-term memory;
gru gated recurrent unit; gan generative adversarial network; vae variational autoencoder;
dnn deep neural network; mlp multilayer perceptron; gnn graph neural network;
gcn graph convolutional network; vit vision transformer; nas neural architecture search;
ssm state space model; ntk neural tangent kernel; nerf neural radiance field;
ctr click-through rate; moe mixture of experts; rag retrieval-augmented generation;
cot chain of thought; kd knowledge distillation; sgd stochastic gradient descent;
ddpm denoising diffusion probabilistic model; ldm latent diffusion model; t2i text-to-image;
asr automatic speech recognition; tts text-to-speech; ocr optical character recognition;
vqa visual question answering; nli natural language inference; ner named entity recognition;
ppo proximal policy optimization; dpo direct preference optimization; lora low-rank adaptation;
peft parameter-efficient fine-tuning; sft supervised fine-tuning;
slam simultaneous localization and mapping; pinn physics-informed neural network;
mcmc markov chain monte carlo; svm support vector machine; pca principal component analysis;
ood out-of-distribution; fl federated learning; 3dgs 3d gaussian splatting
"""


def _known() -> dict[str, set[tuple[str, ...]]]:
    table: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for entry in _KNOWN.split(";"):
        short, _, long_form = entry.strip().partition(" ")
        table[short].add(analyze(long_form).stems)
    return table


KNOWN = _known()


def learn(summaries: Iterable[str]) -> Acronyms:
    """The known acronyms plus those the papers define."""
    table: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for short, forms in KNOWN.items():
        table[short] |= forms
    for summary in summaries:
        for short, long_form in definitions(summary):
            if 2 <= len(long_form) <= 6:
                table[short].add(long_form)
    return {short: frozenset(forms) for short, forms in table.items()}


def expand(
    term: TextTerm, acronyms: Acronyms, long_forms: Mapping[tuple[str, ...], str]
) -> TextTerm:
    """The term with its acronym's long forms, or a long form with its acronym."""
    extra: list[Variant] = []
    short = acronym_of(term)
    if short is not None:
        extra = [Variant(form) for form in sorted(acronyms.get(short, ()))]
    elif (found := long_forms.get(term.variants[0].stems)) is not None:
        extra = [Variant((stem(found),), (found,))]
    if not extra:
        return term
    variants = tuple(dict.fromkeys([*term.variants, *extra]))
    return TextTerm(variants, term.title_only, term.label)


def by_long_form(acronyms: Acronyms) -> dict[tuple[str, ...], str]:
    """Long form -> acronym, for phrases typed out in full."""
    return {form: short for short, forms in acronyms.items() for form in forms if len(form) > 1}
