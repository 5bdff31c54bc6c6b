#!/usr/bin/python3
"""Export the torchvision models named in models/manifest.yaml to ONNX.

  /usr/bin/python3 models/export_torchvision.py [--out-dir DIR] [--pretrained]
                                                [--opset N] [--only NAME ...] [--fp16]

Writes, into the model cache directory (default: $APP_MODEL_CACHE_DIR or
<project>/.cache/models, where the registry looks):
  mobilenet_v3_small.onnx                    input  `input` [batch,3,224,224]
                                             output `logits` [batch,1000]
  fasterrcnn_mobilenet_v3_large_320_fpn.onnx input  `image` [3,H,W] RGB 0..1
                                             outputs `boxes` [N,4] xyxy,
                                             `labels` [N] int64 COCO ids,
                                             `scores` [N]
With --fp16 also mobilenet_v3_small.fp16.onnx: the same graph with float16
weights, input and output (for GPUs; onnxruntime's CPU EP lacks float16
kernels for most of it). It is converted from the float32 export with the
`onnx` package (Debian: python3-onnx), as torch 1.13 cannot run float16
convolutions on the CPU to trace them. The service feeds it uint8 pixels
through its wrapped graph and casts its float16 output to float32.
and beside each a `<file>.reference.json` with PyTorch's own outputs for a
synthetic input that the test suite rebuilds exactly, so the ONNX graph run by
onnxruntime can be checked against PyTorch.

Without --pretrained the weights are random (seeded, BatchNorm statistics
set from synthetic images so outputs are not all equal): right for shapes,
decoding and speed, meaningless for accuracy. With --pretrained torchvision
downloads the ImageNet/COCO weights (needs internet).

Opset: 11..15 only. torchvision 0.14 exports RoiAlign without
coordinate_transformation_mode; from opset 16 onnxruntime then assumes
`half_pixel` while Faster R-CNN needs `output_half_pixel` (aligned=False) and
the detections silently differ from PyTorch.

Needs torch + torchvision (Debian 12: apt-get install python3-torch
python3-torchvision libopenblas0-openmp; run with /usr/bin/python3).
"""
import argparse
import json
import os
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
MIN_OPSET, MAX_OPSET = 11, 15


def pattern(channels, height, width, phase):
    """Deterministic image in 0..1 that the TypeScript test rebuilds bit for bit:
    value = ((x*x*7 + y*y*13 + x*y*3 + x*5 + y*11 + c*29 + phase*31) % 256) / 255
    (quadratic, so it has no short period that would make detections tie)."""
    import torch

    c = torch.arange(channels).view(channels, 1, 1)
    y = torch.arange(height).view(1, height, 1)
    x = torch.arange(width).view(1, 1, width)
    return ((x * x * 7 + y * y * 13 + x * y * 3 + x * 5 + y * 11 + c * 29 + phase * 31) % 256).float() / 255.0


def calibrate_random(model, batches, cls_layer=None):
    """Random weights only: with untrained BatchNorm statistics the activations
    collapse and every box or class gets the same score, which would make the
    PyTorch-vs-onnxruntime check meaningless. Set the BatchNorm statistics from
    a few synthetic images and widen the classifier weights so outputs differ."""
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calibration passes
        bn.train()
    with torch.no_grad():
        for batch in batches:
            model(batch)
    model.eval()
    if cls_layer is not None:
        torch.nn.init.normal_(cls_layer.weight, std=0.5)


def write_reference(path, data):
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n")


def export_mobilenet_v3_small(out_dir, opset, pretrained):
    import torch
    import torchvision

    weights = torchvision.models.MobileNet_V3_Small_Weights.IMAGENET1K_V1 if pretrained else None
    model = torchvision.models.mobilenet_v3_small(weights=weights).eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    # The graph takes normalised input (the service's preprocess does mean/std).
    batch = torch.stack([(pattern(3, 224, 224, p) - mean) / std for p in (0, 1)])
    if not pretrained:
        calib = torch.stack([(pattern(3, 224, 224, p) - mean) / std for p in range(2, 10)])
        calibrate_random(model, [calib], model.classifier[-1])
    target = out_dir / "mobilenet_v3_small.onnx"
    with torch.no_grad():
        logits = model(batch)
        torch.onnx.export(
            model,
            (batch,),
            str(target),
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
        )
    write_reference(
        out_dir / "mobilenet_v3_small.onnx.reference.json",
        {
            "model": "mobilenet_v3_small",
            "pretrained": pretrained,
            "opset": opset,
            "input": {"pattern_phases": [0, 1], "height": 224, "width": 224, "normalised": "imagenet"},
            "logits": [row.tolist() for row in logits],
        },
    )
    return target


def export_fasterrcnn(out_dir, opset, pretrained, score_thresh, height, width):
    import torch
    import torchvision

    det = torchvision.models.detection
    kwargs = {"box_score_thresh": score_thresh}
    if pretrained:
        model = det.fasterrcnn_mobilenet_v3_large_320_fpn(
            weights=det.FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1, **kwargs
        )
    else:
        model = det.fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, **kwargs)
    model = model.eval()
    if not pretrained:
        calibrate_random(model, [[pattern(3, height, width, p)] for p in range(1, 5)], model.roi_heads.box_predictor.cls_score)
    image = pattern(3, height, width, 0)
    target = out_dir / "fasterrcnn_mobilenet_v3_large_320_fpn.onnx"
    with torch.no_grad():
        ref = model([image])[0]
        torch.onnx.export(
            model,
            ([image],),
            str(target),
            input_names=["image"],
            output_names=["boxes", "labels", "scores"],
            dynamic_axes={"image": {1: "height", 2: "width"}, "boxes": {0: "n"}, "labels": {0: "n"}, "scores": {0: "n"}},
            opset_version=opset,
            do_constant_folding=True,
        )
    write_reference(
        out_dir / "fasterrcnn_mobilenet_v3_large_320_fpn.onnx.reference.json",
        {
            "model": "fasterrcnn_person",
            "pretrained": pretrained,
            "opset": opset,
            "box_score_thresh": score_thresh,
            "input": {"pattern_phase": 0, "height": height, "width": width},
            "boxes": ref["boxes"].tolist(),
            "labels": ref["labels"].tolist(),
            "scores": ref["scores"].tolist(),
        },
    )
    return target


def to_float16(src, dst):
    """float32 → float16 for a graph of plain float ops (MobileNetV3-Small):
    initializers, Constant tensors, graph inputs/outputs and Cast targets."""
    try:
        import numpy as np
        import onnx
        from onnx import TensorProto, numpy_helper
    except ImportError as err:
        sys.exit(f"--fp16 needs the onnx package ({err}); on Debian 12: apt-get install -y python3-onnx")
    model = onnx.load(str(src))
    graph = model.graph

    def half(t):
        if t.data_type != TensorProto.FLOAT:
            return t
        h = numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name)
        return h

    for i, t in enumerate(graph.initializer):
        graph.initializer[i].CopyFrom(half(t))
    for n in graph.node:
        for a in n.attribute:
            if a.name == "value" and a.type == onnx.AttributeProto.TENSOR:
                a.t.CopyFrom(half(a.t))
            if n.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
    for v in list(graph.input) + list(graph.output):
        if v.type.tensor_type.elem_type == TensorProto.FLOAT:
            v.type.tensor_type.elem_type = TensorProto.FLOAT16
    del graph.value_info[:]  # shapes and types are re-inferred by onnxruntime
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return dst


def main(argv):
    default_out = os.environ.get("APP_MODEL_CACHE_DIR") or ".cache/models"
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", default=default_out, help="relative paths are under the project root (default: %(default)s)")
    p.add_argument("--opset", type=int, default=13, help=f"ONNX opset, {MIN_OPSET}..{MAX_OPSET} (default: %(default)s)")
    p.add_argument("--pretrained", action="store_true", help="download and use torchvision's pretrained weights")
    p.add_argument("--only", nargs="+", choices=["mobilenet_v3_small", "fasterrcnn_person"], help="export only these")
    p.add_argument(
        "--box-score-thresh",
        type=float,
        default=None,
        help="Faster R-CNN's own score cut-off; default 0.05 with --pretrained, else 0.0 "
        "(random weights rarely score above 0.05; 0 keeps outputs non-empty for checking)",
    )
    p.add_argument("--fp16", action="store_true", help="also write mobilenet_v3_small.fp16.onnx (float16; needs python3-onnx)")
    p.add_argument("--height", type=int, default=480, help="Faster R-CNN example/reference height (manifest: 480)")
    p.add_argument("--width", type=int, default=640, help="Faster R-CNN example/reference width (manifest: 640)")
    args = p.parse_args(argv)

    if not MIN_OPSET <= args.opset <= MAX_OPSET:
        p.error(f"--opset must be {MIN_OPSET}..{MAX_OPSET}: from 16 torchvision's RoiAlign export gives wrong boxes in onnxruntime")
    try:
        import torch
        import torchvision
    except ImportError as err:
        sys.exit(
            f"cannot import torch/torchvision ({err}); on Debian 12: apt-get install -y python3-torch "
            "python3-torchvision libopenblas0-openmp, then run with /usr/bin/python3"
        )

    out_dir = Path(args.out_dir)
    if not out_dir.is_absolute():
        out_dir = PROJECT / out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    thresh = args.box_score_thresh if args.box_score_thresh is not None else (0.05 if args.pretrained else 0.0)
    which = args.only or ["mobilenet_v3_small", "fasterrcnn_person"]
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, opset {args.opset}, "
          f"{'pretrained' if args.pretrained else 'RANDOM (seeded)'} weights → {out_dir}")
    if "mobilenet_v3_small" in which:
        target = export_mobilenet_v3_small(out_dir, args.opset, args.pretrained)
        print(f"wrote {target}")
        if args.fp16:
            print(f"wrote {to_float16(target, out_dir / 'mobilenet_v3_small.fp16.onnx')}")
    if "fasterrcnn_person" in which:
        print(f"wrote {export_fasterrcnn(out_dir, args.opset, args.pretrained, thresh, args.height, args.width)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
