"""Deployment tools: ONNX export of backbones, the ACH layer and whole models."""
