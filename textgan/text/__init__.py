"""Text side of the text-to-image GANs: vocabularies, the AttnGAN tokenizer and the DAMSM text encoder."""
from .damsm import DAMSMTextEncoder
from .vocab import Tokenizer, Vocabulary, load_captions_pickle

# tokenizer classes by the "type" of their config.json entry (families add theirs here)
TOKENIZER_TYPES = {Tokenizer.type_name: Tokenizer}

__all__ = ["Vocabulary", "Tokenizer", "DAMSMTextEncoder", "load_captions_pickle", "TOKENIZER_TYPES"]
