"""Text side of the text-to-image GANs: vocabularies, the AttnGAN tokenizer and the DAMSM text encoder."""
from .damsm import DAMSMTextEncoder
from .vocab import Tokenizer, Vocabulary, load_captions_pickle
from .vse import SISGANTextEncoder, VisualSemanticEmbedding, sisgan_tokenize
from .word_vectors import WordVectors

# tokenizer classes by the "type" of their config.json entry (families add theirs here)
TOKENIZER_TYPES = {Tokenizer.type_name: Tokenizer}
from .charcnnrnn import CharCNNRNN, CharTokenizer  # noqa: E402  (Reed's char-CNN-RNN)
TOKENIZER_TYPES[CharTokenizer.type_name] = CharTokenizer

__all__ = ["Vocabulary", "Tokenizer", "DAMSMTextEncoder", "load_captions_pickle", "TOKENIZER_TYPES"]
__all__ += ["WordVectors", "SISGANTextEncoder", "VisualSemanticEmbedding", "sisgan_tokenize"]
__all__ += ["CharTokenizer", "CharCNNRNN"]
