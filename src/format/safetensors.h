// safetensors reader (single file or sharded with model.safetensors.index.json)
// and writer. Format: 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
// "__metadata__": {str: str}}, then the data. Offsets are relative to the end
// of the header. Every field is validated against the file before use.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "format/tensor_store.h"

namespace nagi {

// Adds every tensor of one .safetensors file to `store` under its name in the
// file; returns the file's __metadata__ (empty if none).
std::map<std::string, std::string> load_safetensors_file(const std::string& path, TensorStore& store);

// Loads a Hugging Face folder's weights: model.safetensors.index.json (every
// shard it names, each tensor required to be in the shard the index says) or
// else model.safetensors.
void load_safetensors_folder(const std::string& dir, TensorStore& store);

class SafetensorsWriter {
 public:
  // `data` must hold exactly dtype_bytes(dtype, numel(shape)) bytes.
  void add(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
           std::vector<uint8_t> data);
  void add_f32(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& values);
  void set_metadata(const std::string& key, const std::string& value);
  // Writes the file (tensors in name order, header padded to 8 bytes).
  void write(const std::string& path) const;

 private:
  struct Entry {
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;
  };
  std::map<std::string, Entry> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace nagi
