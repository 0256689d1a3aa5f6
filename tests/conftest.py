import os

# Keep TensorFlow quiet and deterministic enough for tests; the backend is
# whatever KERAS_BACKEND says (TensorFlow by default).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
