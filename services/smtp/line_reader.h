#pragma once
// Bounded line framing for SMTP. The buffer has a fixed capacity chosen at construction and
// never grows: a line longer than the limit is discarded up to its LF and reported as
// kTooLong. Lines must end with CR LF; a bare LF ending a line or a CR not followed by LF
// inside it is reported (SMTP smuggling defence), never silently normalised.

#include <cstddef>
#include <memory>
#include <string_view>

namespace rebound::smtp {

enum class LineStatus {
    kLine,      // a complete line ending with CR LF
    kTooLong,   // a line longer than the limit (including CR LF) was discarded
    kBareLf,    // a line ending with LF not preceded by CR
    kBareCr,    // a line ending with CR LF but containing a CR not followed by LF
    kNeedMore,  // no complete line buffered: read more
};

struct LineResult {
    LineStatus status = LineStatus::kNeedMore;
    // The line without its terminator (for kBareLf without the LF; for kBareCr including
    // the stray CR). Valid until the next call that changes the buffer. Empty for kTooLong.
    std::string_view line;
};

class LineBuffer {
  public:
    // `capacity` must exceed the largest line limit passed to Next() by at least one read
    // chunk; 4096 extra octets is plenty.
    explicit LineBuffer(std::size_t capacity);
    LineBuffer(const LineBuffer&) = delete;
    LineBuffer& operator=(const LineBuffer&) = delete;

    // The free space at the end of the buffer to read into (compacts first). Never empty
    // while Next() keeps being called until it returns kNeedMore.
    char* WriteData();
    std::size_t WriteSize();
    // Marks `n` octets written at WriteData() as received.
    void Commit(std::size_t n);

    // Extracts the next line of at most `limit` octets including its CR LF.
    LineResult Next(std::size_t limit);

    // Octets received but not yet returned as lines.
    std::size_t Buffered() const { return end_ - begin_; }
    // Drops everything buffered (used after STARTTLS: nothing sent in clear text before the
    // handshake may be interpreted after it).
    void Clear();

  private:
    std::unique_ptr<char[]> data_;
    std::size_t capacity_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    bool discarding_ = false;  // inside an overlong line, dropping until its LF
};

}  // namespace rebound::smtp
