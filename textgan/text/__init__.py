"""Text side of the text-to-image GANs: vocabularies, the AttnGAN tokenizer and the DAMSM text encoder."""
from .damsm import DAMSMTextEncoder
from .vocab import Tokenizer, Vocabulary, load_captions_pickle

__all__ = ["Vocabulary", "Tokenizer", "DAMSMTextEncoder", "load_captions_pickle"]
