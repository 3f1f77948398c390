// Line tables and span arithmetic for diagnostics.
#include "compiler/source/source_manager.h"

#include <algorithm>

namespace kmr::source {

Span Span::cover(const Span& first, const Span& last) {
  if (!first.valid()) return last;
  if (!last.valid()) return first;
  Span s = first;
  if (last.end_line > s.end_line || (last.end_line == s.end_line && last.end_col > s.end_col)) {
    s.end_line = last.end_line;
    s.end_col = last.end_col;
  }
  return s;
}

std::string_view SourceFile::line_text(uint32_t line) const {
  if (line == 0 || line > line_starts.size()) return {};
  size_t begin = line_starts[line - 1];
  size_t end = line < line_starts.size() ? line_starts[line] : text.size();
  std::string_view view(text.data() + begin, end - begin);
  while (!view.empty() && (view.back() == '\n' || view.back() == '\r')) view.remove_suffix(1);
  return view;
}

uint32_t SourceManager::add(std::string path, std::string text) {
  auto file = std::make_unique<SourceFile>();
  file->path = std::move(path);
  file->text = std::move(text);
  file->line_starts.push_back(0);
  for (size_t i = 0; i < file->text.size(); ++i)
    if (file->text[i] == '\n') file->line_starts.push_back(i + 1);
  files_.push_back(std::move(file));
  return static_cast<uint32_t>(files_.size() - 1);
}

}  // namespace kmr::source
