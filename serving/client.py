"""Clients for a keras_attngan translator behind TF Serving: REST and gRPC.

    python serving/client.py --rest localhost:8501 --model uag photo.jpg more/ --output out/
    python serving/client.py --grpc localhost:8500 --model uag photo.jpg --output out/

Both send encoded image files to the ``translate_bytes`` signature and write the PNG
translations (and ``*_mask.png`` for attention models) into ``--output``. A
multi-domain model (aggan_multidomain) also takes ``--target-domain K``, sent with every
image as the signature's ``target_domain`` input. REST needs
``requests``; gRPC needs ``tensorflow-serving-api`` (``pip install "keras_attngan[serving]"``).
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from typing import Sequence

SIGNATURE = "translate_bytes"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


# ----------------------------------------------------------------------------- REST
def rest_url(server: str, model: str, version: int | None = None) -> str:
    server = server if server.startswith("http") else f"http://{server}"
    version_part = f"/versions/{version}" if version else ""
    return f"{server.rstrip('/')}/v1/models/{model}{version_part}:predict"


def rest_request(images: Sequence[bytes], signature: str = SIGNATURE,
                 target_domain: int | None = None) -> dict:
    """The JSON body of a predict call: each image base64-encoded as {"b64": ...}, and
    for multi-domain models its ``target_domain``."""
    instances = []
    for data in images:
        instance = {"image_bytes": {"b64": base64.b64encode(data).decode("ascii")}}
        if target_domain is not None:
            instance["target_domain"] = int(target_domain)
        instances.append(instance)
    return {"signature_name": signature, "instances": instances}


def parse_rest_response(body: dict) -> list[dict[str, bytes]]:
    """TF Serving's {"predictions": [...]} -> one {"image": png, "mask": png} per image."""
    if "error" in body:
        raise RuntimeError(f"TF Serving refused the request: {body['error']}")
    results = []
    for prediction in body["predictions"]:
        if not isinstance(prediction, dict):  # a single output comes unnamed
            prediction = {"image_bytes": prediction}
        results.append({name.removesuffix("_bytes"): base64.b64decode(value["b64"])
                        for name, value in prediction.items()})
    return results


def translate_rest(server: str, model: str, images: Sequence[bytes],
                   timeout: float = 60.0,
                   target_domain: int | None = None) -> list[dict[str, bytes]]:
    import requests

    response = requests.post(rest_url(server, model),
                             json=rest_request(images, target_domain=target_domain),
                             timeout=timeout)
    try:
        body = response.json()
    except ValueError:
        response.raise_for_status()
        raise
    return parse_rest_response(body)


# ----------------------------------------------------------------------------- gRPC
def grpc_request(model: str, images: Sequence[bytes], signature: str = SIGNATURE,
                 target_domain: int | None = None):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    request.inputs["image_bytes"].CopyFrom(
        tf.make_tensor_proto(list(images), dtype=tf.string, shape=[len(images)]))
    if target_domain is not None:  # multi-domain models: one domain index per image
        request.inputs["target_domain"].CopyFrom(tf.make_tensor_proto(
            [int(target_domain)] * len(images), dtype=tf.int32, shape=[len(images)]))
    return request


def parse_grpc_response(response) -> list[dict[str, bytes]]:
    import tensorflow as tf

    outputs = {name.removesuffix("_bytes"): tf.make_ndarray(proto)
               for name, proto in response.outputs.items()}
    count = len(next(iter(outputs.values())))
    return [{name: bytes(values[i]) for name, values in outputs.items()}
            for i in range(count)]


def translate_grpc(server: str, model: str, images: Sequence[bytes],
                   timeout: float = 60.0,
                   target_domain: int | None = None) -> list[dict[str, bytes]]:
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(server) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        return parse_grpc_response(stub.Predict(
            grpc_request(model, images, target_domain=target_domain), timeout))


# ------------------------------------------------------------------------------ CLI
def image_files(paths: Sequence[str]) -> list[str]:
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(os.path.join(path, n) for n in os.listdir(path)
                            if n.lower().endswith(IMAGE_EXTENSIONS))
        else:
            files.append(path)
    return files


def _fail(message: str) -> None:
    print(f"client.py: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: Sequence[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--rest", help="host:port of TF Serving's REST API (8501)")
    where.add_argument("--grpc", help="host:port of TF Serving's gRPC API (8500)")
    parser.add_argument("--model", required=True, help="the model name TF Serving serves")
    parser.add_argument("--output", required=True)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace files that exist in --output")
    parser.add_argument("--target-domain", type=int, default=None,
                        help="multi-domain models: the domain to translate every image to")
    parser.add_argument("inputs", nargs="+", help="image files or folders")
    args = parser.parse_args(argv)
    if args.target_domain is not None and args.target_domain < 0:
        _fail(f"--target-domain must be a domain index (0, 1, ...); got {args.target_domain}")

    missing = [path for path in args.inputs if not os.path.exists(path)]
    if missing:
        _fail(f"no such file or folder: {', '.join(missing)}")
    files = image_files(args.inputs)
    if not files:
        _fail("no image files given")
    # every output name decided, and checked, before the request
    stems = [os.path.splitext(os.path.basename(path))[0] for path in files]
    seen: dict[str, str] = {}  # output name (translation, or mask of a masked model) -> input
    for path, stem in zip(files, stems):
        for name in (stem + ".png", stem + "_mask.png"):
            other = seen.get(name.lower())
            if other is not None and other != path:
                _fail(f"{other} and {path} would both be written as {name}; send them "
                      "separately or rename one")
            seen[name.lower()] = path
    existing = [os.path.join(args.output, stem + suffix) for stem in stems
                for suffix in (".png", "_mask.png")
                if os.path.exists(os.path.join(args.output, stem + suffix))]
    if existing and not args.overwrite:
        _fail(f"{len(existing)} output file(s) exist already (e.g. {existing[0]}); pass "
              "--overwrite to replace them, or choose another --output")
    images = []
    for path in files:
        try:
            with open(path, "rb") as f:
                images.append(f.read())
        except OSError as error:
            _fail(f"cannot read {path}: {error.strerror or error}")
    server = args.rest or args.grpc
    try:
        if args.rest:
            results = translate_rest(args.rest, args.model, images,
                                     target_domain=args.target_domain)
        else:
            results = translate_grpc(args.grpc, args.model, images,
                                     target_domain=args.target_domain)
    except ImportError as error:
        _fail(f"{error.name or error} is not installed: pip install "
              "\"keras_attngan[serving]\"")
    except Exception as error:  # connection refused, timeouts, TF Serving's refusals
        message = str(getattr(error, "details", lambda: None)() or error).splitlines()
        kind = type(error).__name__
        if "Connection" in kind or "UNAVAILABLE" in str(error) or "refused" in str(error):
            _fail(f"cannot reach TF Serving at {server} ({kind}); is the server running?")
        _fail(f"the request to {server} failed: {message[0] if message else kind}")
    os.makedirs(args.output, exist_ok=True)
    written = []
    for stem, result in zip(stems, results):
        for name, data in result.items():
            target = os.path.join(args.output, stem + ("" if name == "image" else f"_{name}")
                                  + ".png")
            with open(target, "wb") as f:
                f.write(data)
            written.append(target)
    print(f"wrote {len(written)} file(s) to {args.output}")
    return written


if __name__ == "__main__":
    main()
