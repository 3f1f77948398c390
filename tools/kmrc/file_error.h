// How kmrc's checkpoint commands report a failure: `file: error: message`.
#pragma once

#include <iostream>
#include <string>

namespace kmrc {

/// Prints "path: error: what" to stderr. Runtime errors already start with the file they
/// name ("path: ..."); that prefix is not repeated.
inline void print_file_error(const std::string& path, const std::string& message) {
  std::string what = message;
  const std::string prefix = path + ": ";
  if (what.compare(0, prefix.size(), prefix) == 0) what.erase(0, prefix.size());
  std::cerr << path << ": error: " << what << "\n";
}

}  // namespace kmrc
