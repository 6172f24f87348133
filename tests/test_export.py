import base64
import json
import os
import shutil
import subprocess
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest
import tensorflow as tf

import keras_attngan as kag
from keras_attngan import cli
from keras_attngan.export import ExportCheckError, TFLiteTranslator
from keras_attngan.export.tflite import check, convert, sample_images

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "serving"))
import client  # noqa: E402

TINY = {
    "cyclegan": dict(ngf=8, ndf=8, n_blocks=1),
    "uag": dict(ngf=8, ndf=8, n_blocks=1, attention_ngf=8),
    "aggan": dict(ngf=8, ndf=8, n_blocks=1),
    "unit": dict(ngf=8, ndf=8, n_blocks=1),
    "sat": dict(ngf=8, ndf=8, n_blocks=1, vgg_weights=None),
    "dagan": dict(nf=8, ngf=8, ndf=8, n_regions=2, n_blocks=1),
    "unit_da": dict(ngf=8, ndf=8),
    "aggan_multidomain": dict(n_domains=3, ngf=8, ndf=8, n_blocks=1, n_layers_d=3),
}

#: the domain multi-domain models translate to in these tests
DOMAIN = 1


def domain_inputs(model, count):
    """The signatures' extra input of multi-domain models: ``target_domain`` (N,)."""
    return ({"target_domain": tf.constant([DOMAIN] * count)}
            if getattr(model, "n_domains", 0) else {})


def domain_option(model):
    """translate()'s option for multi-domain models."""
    return {"target_domain": DOMAIN} if getattr(model, "n_domains", 0) else {}


def test_every_registered_model_is_covered():
    assert set(TINY) == set(kag.models.available())


def tiny(name):
    return kag.models.build(name, image_size=32, **TINY[name])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each registered model, tiny, exported once as a SavedModel."""
    root = tmp_path_factory.mktemp("export")
    out = {}
    for name in sorted(TINY):
        model = tiny(name)
        path = kag.export.saved_model(model, str(root / name / "1"), max_side=64)
        out[name] = (model, path)
    return out


def images(n=2, height=30, width=27, seed=0):
    a, _ = kag.data.builtin.demo(n=n, size=40, seed=seed)
    return a[:, :height, :width]


@pytest.mark.parametrize("name", sorted(TINY))
def test_saved_model_matches_keras_in_every_signature(exported, name):
    model, path = exported[name]
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {"serving_default", "translate_bytes",
                                      *model.directions}
    x = images()
    for signature in ("serving_default", *model.directions):
        direction = model.directions[0] if signature == "serving_default" else signature
        out = loaded.signatures[signature](images=tf.constant(x),
                                           **domain_inputs(model, len(x)))
        reference = model.translate(x, direction, **domain_option(model))
        expected = np.round((reference["image"] + 1) * 127.5)
        assert out["image"].dtype == tf.uint8 and out["image"].shape == x.shape
        assert np.abs(out["image"].numpy().astype(int) - expected).max() <= 1
        assert ("mask" in out) == model.has_attention
        if model.has_attention:
            assert np.abs(out["mask"].numpy() - reference["mask"]).max() < 1e-5
    encoded = [tf.io.encode_png(x[0]).numpy(), tf.io.encode_jpeg(x[1], quality=100).numpy()]
    out = loaded.signatures["translate_bytes"](image_bytes=tf.constant(encoded),
                                               **domain_inputs(model, 2))
    png = tf.io.decode_png(out["image_bytes"][0]).numpy()
    direct = loaded.signatures["serving_default"](images=tf.constant(x[:1]),
                                                  **domain_inputs(model, 1))["image"]
    assert np.array_equal(png, direct.numpy()[0])
    assert ("mask_bytes" in out) == model.has_attention


@pytest.mark.parametrize("name", sorted(TINY))
def test_saved_model_holds_only_what_translation_uses(exported, name):
    model, path = exported[name]
    reader = tf.train.load_checkpoint(os.path.join(path, "variables", "variables"))
    saved = sum(int(np.prod(shape)) for key, shape in
                reader.get_variable_to_shape_map().items() if "VARIABLE_VALUE" in key)
    discriminators = sum(int(np.prod(v.shape)) for v in model.discriminator_variables)
    everything = sum(int(np.prod(v.shape)) for v in model.variables)
    assert 0 < saved <= everything - discriminators
    if name == "cyclegan":  # exactly the two generators
        assert saved == model.generator_a2b.count_params() + model.generator_b2a.count_params()


def test_saved_model_cli_lists_the_signatures(exported):
    _, path = exported["uag"]
    result = subprocess.run(
        [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir",
         path, "--all"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("serving_default", "a2b", "b2a", "translate_bytes", "image_bytes"):
        assert name in result.stdout


@pytest.mark.parametrize("bad, message", [
    (np.zeros((1, 8, 8, 4), np.uint8), "3 channels"),
    (np.zeros((1, 0, 8, 3), np.uint8), "at least 4 px"),
    (np.zeros((0, 8, 8, 3), np.uint8), "empty"),
    (np.zeros((1, 65, 8, 3), np.uint8), "max_side"),
])
def test_bad_images_are_refused_with_a_message(exported, bad, message):
    loaded = tf.saved_model.load(exported["cyclegan"][1])
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        loaded.signatures["a2b"](images=tf.constant(bad))


def test_undecodable_bytes_are_refused_with_a_message(exported):
    loaded = tf.saved_model.load(exported["cyclegan"][1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a JPEG, PNG"):
        loaded.signatures["translate_bytes"](image_bytes=tf.constant([b"hello, world"]))


@pytest.mark.parametrize("name", sorted(TINY))
def test_tflite_float32_and_float16_match_keras(name, tmp_path):
    model = tiny(name)
    x = sample_images(32, count=2, seed=3)
    # float16 for one model with and one without attention: the conversions are slow
    float16 = [("float16", 1e-2)] if name in ("cyclegan", "uag") else []
    for quantization, bound in [(None, 1e-3)] + float16:
        path = str(tmp_path / f"{quantization}.tflite")
        report = kag.export.tflite(model, path, quantization=quantization, image_size=32)
        assert report["image_max_abs_diff"] <= bound
        out = TFLiteTranslator(path)(x, **domain_option(model))
        reference = model.translate(x, **domain_option(model))
        assert np.abs(out["image"] - reference["image"]).max() <= bound
        assert ("mask" in out) == model.has_attention


def test_tflite_graph_avoids_the_slow_paths():
    # Structure, not timing: 5-D tensors (Keras' GroupNormalization) and
    # SQUARED_DIFFERENCE (ops.moments) made the 256 px CycleGAN 2x slower in TFLite.
    from ai_edge_litert.interpreter import Interpreter

    for quantization in (None, "int8"):
        interpreter = Interpreter(model_content=convert(tiny("cyclegan"), quantization, 32))
        ops = {op["op_name"] for op in interpreter._get_ops_details()}
        assert "SQUARED_DIFFERENCE" not in ops and "CONV_2D" in ops
        assert max(len(t["shape"]) for t in interpreter.get_tensor_details()) <= 4


def test_a_saved_model_of_any_size_keeps_the_fast_convolutions(tmp_path, forced_winograd):
    # The served graph takes any image size and chooses per device where it runs: the
    # CPU's Winograd and TF's convolution (a GPU's) are both in it, behind DeviceIndex.
    model = tiny("cyclegan")
    x = images()
    path = kag.export.saved_model(model, str(tmp_path / "cyclegan" / "1"), max_side=64)
    assert forced_winograd  # traced with a height and width unknown
    loaded = tf.saved_model.load(path)
    graph = loaded.signatures["a2b"].graph.as_graph_def()
    bodies = [{n.op for n in f.node_def} for f in graph.library.function]
    assert any("DeviceIndex" in ops for ops in bodies)
    assert any("BatchMatMulV2" in ops for ops in bodies)  # Winograd's 16 products
    served = loaded.signatures["a2b"](images=tf.constant(x))["image"].numpy().astype(int)
    expected = np.round((model.translate(x)["image"] + 1) * 127.5)
    assert np.abs(served - expected).max() <= 1


def test_tflite_uses_direct_convolutions_where_keras_uses_winograd(tmp_path, forced_winograd):
    # TFLite's converter cannot take the Winograd graph, and XNNPACK and int8 expect CONV_2D.
    from ai_edge_litert.interpreter import Interpreter

    traced = forced_winograd
    model = tiny("cyclegan")
    x = sample_images(32, count=2, seed=3)
    reference = model.translate(x)["image"]
    assert traced  # Keras ran the residual blocks by Winograd
    path = str(tmp_path / "model.tflite")
    report = kag.export.tflite(model, path, image_size=32)
    assert report["image_max_abs_diff"] <= 1e-3
    assert np.abs(TFLiteTranslator(path)(x)["image"] - reference).max() <= 1e-3
    interpreter = Interpreter(model_path=path)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "CONV_2D" in ops and "BATCH_MATMUL" not in ops


def test_quantized_exports_are_checked_by_psnr(tmp_path):
    model = tiny("uag")
    report = kag.export.tflite(model, str(tmp_path / "dyn.tflite"), quantization="dynamic",
                               image_size=32)
    assert report["image_psnr_db"] >= 30
    # a model that misses its bound is refused with the measured figure, and not written
    other = tiny("uag")
    flatbuffer = convert(other, "int8", 32)
    with pytest.raises(ExportCheckError, match=r"dB PSNR .*bound 30"):
        check(model, flatbuffer, "int8", sample_images(32, 2), "a2b")
    with pytest.raises(ExportCheckError, match="differs from Keras by up to"):
        check(model, convert(other, None, 32), None,
              sample_images(32, 2), "a2b")


def test_cli_export_and_translate_with_tflite(tmp_path):
    model = tiny("uag")
    model.save(str(tmp_path / "model.keras"))
    result = cli.main(["export", "--checkpoint", str(tmp_path / "model.keras"), "--format",
                       "saved_model", "--out", str(tmp_path / "export" / "uag" / "1")])
    assert os.path.exists(os.path.join(result["path"], "saved_model.pb"))
    report = cli.main(["export", "--checkpoint", str(tmp_path / "model.keras"), "--format",
                       "tflite", "--out", str(tmp_path / "uag.tflite"),
                       "--quantization", "float16"])
    assert report["quantization"] == "float16"
    inputs = tmp_path / "in"
    inputs.mkdir()
    tf.io.write_file(str(inputs / "x.png"), tf.io.encode_png(images(1, 38, 37)[0]))
    written = cli.main(["translate", "--checkpoint", str(tmp_path / "uag.tflite"), "--input",
                        str(inputs), "--output", str(tmp_path / "out")])
    assert tf.io.decode_png(tf.io.read_file(written[0])).shape == (38, 37, 3)
    assert os.path.exists(str(tmp_path / "out" / "x_mask.png"))


# ------------------------------------------------------------ the serving clients
class StandInServer:
    """What TF Serving does with a SavedModel, for the clients: REST on a local HTTP
    port, gRPC on another, both running the exported signatures."""

    def __init__(self, name, path):
        self.name = name
        self.signatures = tf.saved_model.load(path).signatures

    def predict(self, signature, inputs):
        outputs = self.signatures[signature](**inputs)
        return {key: value.numpy() for key, value in outputs.items()}

    def rest(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                assert self.path == f"/v1/models/{server.name}:predict", self.path
                values = [base64.b64decode(i["image_bytes"]["b64"]) for i in body["instances"]]
                inputs = {"image_bytes": tf.constant(values)}
                if "target_domain" in body["instances"][0]:
                    inputs["target_domain"] = tf.constant(
                        [i["target_domain"] for i in body["instances"]], tf.int32)
                out = server.predict(body["signature_name"], inputs)
                predictions = [{key: {"b64": base64.b64encode(out[key][i]).decode()}
                                for key in out} for i in range(len(values))]
                data = json.dumps({"predictions": predictions}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        httpd = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return httpd

    def grpc(self):
        import grpc
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

        server = self

        class Service(prediction_service_pb2_grpc.PredictionServiceServicer):
            def Predict(self, request, context):
                inputs = {key: tf.constant(tf.make_ndarray(proto))
                          for key, proto in request.inputs.items()}
                out = server.predict(request.model_spec.signature_name, inputs)
                response = predict_pb2.PredictResponse()
                for key, value in out.items():
                    response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
                return response

        grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Service(),
                                                                           grpc_server)
        port = grpc_server.add_insecure_port("127.0.0.1:0")
        grpc_server.start()
        return grpc_server, port


def test_rest_and_grpc_clients_against_a_stand_in(exported, tmp_path):
    _, path = exported["uag"]
    stand_in = StandInServer("uag", path)
    inputs = tmp_path / "in"
    inputs.mkdir()
    x = images(2)
    for i, image in enumerate(x):
        tf.io.write_file(str(inputs / f"{i}.png"), tf.io.encode_png(image))
    expected = stand_in.predict("serving_default", {"images": tf.constant(x)})["image"]

    body = client.rest_request([b"abc"])
    assert body == {"signature_name": "translate_bytes",
                    "instances": [{"image_bytes": {"b64": "YWJj"}}]}
    httpd = stand_in.rest()
    try:
        written = client.main(["--rest", f"127.0.0.1:{httpd.server_port}", "--model", "uag",
                               str(inputs), "--output", str(tmp_path / "rest")])
    finally:
        httpd.shutdown()
    grpc_server, port = stand_in.grpc()
    try:
        written_grpc = client.main(["--grpc", f"127.0.0.1:{port}", "--model", "uag",
                                    str(inputs), "--output", str(tmp_path / "grpc")])
    finally:
        grpc_server.stop(None)
    for files in (written, written_grpc):
        assert sorted(os.path.basename(f) for f in files) == [
            "0.png", "0_mask.png", "1.png", "1_mask.png"]
        for i in range(2):
            got = tf.io.decode_png(tf.io.read_file(os.path.join(os.path.dirname(files[0]),
                                                                f"{i}.png"))).numpy()
            assert np.array_equal(got, expected[i])
    with pytest.raises(RuntimeError, match="refused"):
        client.parse_rest_response({"error": "bad input"})


@pytest.mark.skipif(shutil.which("tensorflow_model_server") is None,
                    reason="tensorflow_model_server is not on PATH (TF Serving cannot be "
                           "installed from this machine's package registries)")
def test_end_to_end_with_tensorflow_model_server(exported, tmp_path):
    import socket
    import time

    _, path = exported["uag"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(["tensorflow_model_server", f"--rest_api_port={port}",
                               "--port=0", "--model_name=uag",
                               f"--model_base_path={os.path.dirname(path)}"])
    try:
        x = images(1)
        for _ in range(60):
            try:
                result = client.translate_rest(f"127.0.0.1:{port}", "uag",
                                               [tf.io.encode_png(x[0]).numpy()])
                break
            except Exception:
                time.sleep(1)
        else:
            pytest.fail("tensorflow_model_server did not answer")
        assert tf.io.decode_png(result[0]["image"]).shape == x[0].shape
    finally:
        server.kill()


# ------------------------------------------------------------- deployed models, bad input
@pytest.mark.parametrize("bad, message", [
    (np.zeros((8, 8, 3), np.uint8), "4 dimensions"),
    (np.zeros((8, 8), np.uint8), "4 dimensions"),
])
def test_wrong_rank_is_refused_with_the_shape(exported, bad, message):
    loaded = tf.saved_model.load(exported["cyclegan"][1])
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        loaded.signatures["a2b"](images=tf.constant(bad))


def test_truncated_bytes_are_refused_with_a_message(exported):
    loaded = tf.saved_model.load(exported["cyclegan"][1])
    x = images(1)[0]
    for data in (tf.io.encode_jpeg(x).numpy(), tf.io.encode_png(x).numpy()):
        with pytest.raises(tf.errors.InvalidArgumentError, match="truncated"):
            loaded.signatures["translate_bytes"](image_bytes=tf.constant([data[:-40]]))


def test_tflite_translator_converts_uint8_and_refuses_the_wrong_size(tmp_path):
    model = tiny("cyclegan")
    path = str(tmp_path / "m.tflite")
    kag.export.tflite(model, path, image_size=32)
    translator = TFLiteTranslator(path)
    x = images(1, 32, 32)
    from_uint8 = translator(x)["image"]
    assert np.abs(from_uint8 - translator((x / 127.5 - 1).astype("float32"))["image"]).max() < 1e-5
    assert -1 <= from_uint8.min() and from_uint8.max() <= 1
    with pytest.raises(ValueError, match="fixed input size"):
        translator(images(1, 30, 32))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        translator(x.astype("float32"))
    with pytest.raises(FileExistsError):
        kag.export.tflite(model, path, image_size=32)


def test_multidomain_exports_take_the_target_domain(exported, tmp_path):
    model, path = exported["aggan_multidomain"]
    loaded = tf.saved_model.load(path)
    x = images(3, 32, 32)
    out = loaded.signatures["serving_default"](images=tf.constant(x),
                                               target_domain=tf.constant([0, 1, 2]))
    for i in range(3):  # one domain per image
        reference = model.translate(x[i:i + 1], target_domain=i)["image"][0]
        assert np.abs(out["image"].numpy()[i].astype(int)
                      - np.round((reference + 1) * 127.5)).max() <= 1
    with pytest.raises(tf.errors.InvalidArgumentError, match="0..2"):
        loaded.signatures["serving_default"](images=tf.constant(x),
                                             target_domain=tf.constant([0, 1, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="one domain index per image"):
        loaded.signatures["serving_default"](images=tf.constant(x),
                                             target_domain=tf.constant([0]))
    with pytest.raises(ValueError, match="target_domain"):
        TFLiteTranslator(kag.export.tflite(model, str(tmp_path / "m.tflite"),
                                           image_size=32)["path"])(x)
    # the clients send the domain with every image
    body = client.rest_request([b"abc"], target_domain=2)
    assert body["instances"] == [{"image_bytes": {"b64": "YWJj"}, "target_domain": 2}]
    request = client.grpc_request("m", [b"a", b"b"], target_domain=2)
    assert tf.make_ndarray(request.inputs["target_domain"]).tolist() == [2, 2]
    (tmp_path / "in").mkdir()
    tf.io.write_file(str(tmp_path / "in" / "0.png"), tf.io.encode_png(x[0]))
    httpd = StandInServer("md", path).rest()
    try:
        written = client.main(["--rest", f"127.0.0.1:{httpd.server_port}", "--model", "md",
                               "--target-domain", "2", str(tmp_path / "in"), "--output",
                               str(tmp_path / "rest")])
    finally:
        httpd.shutdown()
    got = tf.io.decode_png(tf.io.read_file(str(tmp_path / "rest" / "0.png"))).numpy()
    expected = loaded.signatures["serving_default"](images=tf.constant(x[:1]),
                                                    target_domain=tf.constant([2]))
    assert np.array_equal(got, expected["image"].numpy()[0])
    assert sorted(os.path.basename(f) for f in written) == ["0.png", "0_mask.png"]


def test_client_refuses_clashes_existing_results_missing_files_and_a_down_server(
        tmp_path, capsys):
    import socket

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("x.jpg", "x.png", "y.jpg", "y_mask.jpg", "z.jpg"):
        (folder / name).write_bytes(b"not sent")

    def refused(argv, *expected):
        with pytest.raises(SystemExit) as info:
            client.main(argv)
        err = capsys.readouterr().err
        assert info.value.code == 2 and "Traceback" not in err, err
        assert err.count("\n") == 1, err  # one line
        for text in expected:
            assert text in err, err

    server = ["--rest", "127.0.0.1:9", "--model", "m", "--output", str(tmp_path / "out")]
    refused(server + [str(folder / "x.jpg"), str(folder / "x.png")], "x.png", "both")
    # y's mask and y_mask's translation would be one file
    refused(server + [str(folder / "y.jpg"), str(folder / "y_mask.jpg")], "y_mask.png",
            "both")
    refused(server + [str(tmp_path / "missing.jpg")], "no such file", "missing.jpg")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "z.png").write_bytes(b"kept")
    refused(server + [str(folder / "z.jpg")], "exist already", "--overwrite")
    assert (tmp_path / "out" / "z.png").read_bytes() == b"kept"
    # nothing listens on a port just closed: an unreachable server is one line, exit 2
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refused(["--rest", f"127.0.0.1:{port}", "--model", "m", "--output",
             str(tmp_path / "out2"), str(folder / "z.jpg")], "cannot reach TF Serving")
    assert not (tmp_path / "out2").exists()
