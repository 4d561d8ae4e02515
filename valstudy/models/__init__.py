"""Models: backbones, text encoder, composite transformer, VAL and the baselines."""
from .backbones import MobileNetV1Backbone, ResNet50Backbone, SmallBackbone, build_backbone
from .baselines import TIRG, ConcatMLP, ImageOnly, TextOnly
from .build import build_model
from .composite_transformer import CompositeTransformer, JointAttentionStream, SelfAttentionStream
from .text_encoder import TextEncoder
from .val import VAL

__all__ = ["build_model", "VAL", "TIRG", "ConcatMLP", "ImageOnly", "TextOnly", "CompositeTransformer",
           "SelfAttentionStream", "JointAttentionStream", "TextEncoder", "ResNet50Backbone", "MobileNetV1Backbone",
           "SmallBackbone", "build_backbone"]
