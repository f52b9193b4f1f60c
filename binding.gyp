{
  "targets": [
    {
      "target_name": "latent_struct",
      "sources": [
        "cpp/binding/addon.cc",
        "cpp/binding/categorical_ops.cc",
        "cpp/binding/checks.cc",
        "cpp/binding/errors.cc",
        "cpp/binding/host_pool.cc",
        "cpp/binding/linear_chain_ops.cc",
        "cpp/binding/tensor.cc",
        "cpp/binding/tree_ops.cc",
        "cpp/binding/parts_ops.cc",
        "cpp/binding/sparsemap_io.cc",
        "cpp/binding/roofline_ops.cc",
        "cpp/cpu/cfg.cc",
        "cpp/cpu/cky.cc",
        "cpp/cpu/eisner.cc",
        "cpp/cpu/matrix_tree.cc",
        "cpp/cpu/semi_markov.cc",
        "cpp/cpu/alignment.cc",
        "cpp/cpu/sparsemap.cc",
        "cpp/cpu/entmax.cc",
        "cpp/cpu/gumbel.cc",
        "cpp/cpu/linear_chain.cc",
        "cpp/cpu/linear_chain_topk.cc",
        "cpp/cpu/parallel.cc",
        "cpp/cpu/parts_ops.cc",
        "cpp/cpu/roofline.cc",
        "cpp/cpu/softmax.cc",
        "cpp/cpu/categorical_topk.cc",
        "cpp/cpu/structure_score.cc",
        "cpp/cpu/vector_math.cc",
        "cpp/cpu/vector_math_avx2.cc",
        "cpp/cpu/vector_math_avx512.cc",
        "cpp/cpu/vector_math_baseline.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "cpp/include"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "LS_WITH_CUDA=0"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fvisibility=hidden"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17"] } }
    }
  ]
}
