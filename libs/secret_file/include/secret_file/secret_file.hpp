#pragma once
// Secrets (passwords, tokens) read from files, as Docker and Compose secrets
// provide them: the whole file, without the line ending editors add.
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace secret_file {

// The file's content, or nothing when it cannot be read.
inline std::optional<std::string> read(const std::string& path) {
  std::ifstream file(path);
  if (!file) return std::nullopt;
  std::stringstream content;
  content << file.rdbuf();
  std::string secret = content.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  return secret;
}

}  // namespace secret_file
