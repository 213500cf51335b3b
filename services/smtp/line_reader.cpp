#include "services/smtp/line_reader.h"

#include <cstring>

namespace rebound::smtp {

LineBuffer::LineBuffer(std::size_t capacity) : data_(new char[capacity]), capacity_(capacity) {}

char* LineBuffer::WriteData() {
    if (begin_ > 0 && (end_ == capacity_ || begin_ == end_)) {
        std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    return data_.get() + end_;
}

std::size_t LineBuffer::WriteSize() {
    WriteData();
    return capacity_ - end_;
}

void LineBuffer::Commit(std::size_t n) {
    end_ += n;
}

void LineBuffer::Clear() {
    begin_ = end_ = 0;
    discarding_ = false;
}

LineResult LineBuffer::Next(std::size_t limit) {
    const char* start = data_.get() + begin_;
    const std::size_t avail = end_ - begin_;
    if (discarding_) {
        const void* lf = std::memchr(start, '\n', avail);
        if (lf == nullptr) {
            begin_ = end_ = 0;
            return {LineStatus::kNeedMore, {}};
        }
        begin_ += static_cast<const char*>(lf) - start + 1;
        discarding_ = false;
        return {LineStatus::kTooLong, {}};
    }
    const std::size_t scan = avail < limit ? avail : limit;
    const void* lf = std::memchr(start, '\n', scan);
    if (lf == nullptr) {
        if (avail < limit) return {LineStatus::kNeedMore, {}};
        // `limit` octets without LF: the line is too long whatever follows.
        const void* later = std::memchr(start + scan, '\n', avail - scan);
        if (later != nullptr) {
            begin_ += static_cast<const char*>(later) - start + 1;
            return {LineStatus::kTooLong, {}};
        }
        begin_ = end_ = 0;
        discarding_ = true;
        return Next(limit);
    }
    const std::size_t len = static_cast<const char*>(lf) - start;  // excluding LF
    begin_ += len + 1;
    if (len == 0 || start[len - 1] != '\r') return {LineStatus::kBareLf, std::string_view(start, len)};
    std::string_view line(start, len - 1);
    if (line.find('\r') != std::string_view::npos) return {LineStatus::kBareCr, line};
    return {LineStatus::kLine, line};
}

}  // namespace rebound::smtp
