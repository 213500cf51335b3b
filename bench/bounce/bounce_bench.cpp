// bounce_bench [CORPUS_DIR] [PASSES] [--no-sisimai]
//
// Parses every *.eml of CORPUS_DIR (default /work/shared/corpus/emails) PASSES times (default 50)
// on this thread and prints messages/s; then runs Debian's Sisimai (libsisimai-perl) over the
// same files in one Perl process, timed inside Perl after one untimed warm-up pass (Sisimai loads
// its modules lazily; our side is warmed up too), and prints its
// rate and the ratio. Run it pinned to one core (taskset -c 0) for a one-core figure.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "services/bounce/parser.h"

namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Sisimai over `files`, `passes` times, in one Perl process. Returns messages/s or < 0.
// Rates by CPU time of the measuring process/thread (what one core does, whatever else runs on the
// machine) and by wall-clock time.
struct Rate {
    double cpu = -1;
    double wall = -1;
};

double ThreadCpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Rate SisimaiRate(const std::vector<fs::path>& files, int passes, std::size_t* records) {
    fs::path list = fs::temp_directory_path() / "rebound_bounce_bench_files.txt";
    {
        std::ofstream out(list);
        for (const fs::path& f : files)
            out << f.string() << "\n";
    }
    std::string cmd =
        "perl -MSisimai -MTime::HiRes=time -e '"
        "open(my $fh, \"<\", $ARGV[0]) or die; chomp(my @f = <$fh>); my $passes = $ARGV[1];"
        "for my $p (@f) { Sisimai->make($p) }"  // warm-up: Sisimai loads its modules lazily
        "my ($n, $r) = (0, 0); my $t0 = time; my @c0 = times;"
        "for (1..$passes) { for my $p (@f) { my $v = Sisimai->make($p); $r += scalar(@$v) if $v; $n++ } }"
        "my $dt = time - $t0; my @c1 = times; my $cpu = ($c1[0] - $c0[0]) + ($c1[1] - $c0[1]);"
        "printf(\"%d %d %.6f %.6f\\n\", $n, $r, $dt, $cpu);' " +
        list.string() + " " + std::to_string(passes) + " 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return {};
    long n = 0, r = 0;
    double seconds = 0, cpu = 0;
    int got = std::fscanf(p, "%ld %ld %lf %lf", &n, &r, &seconds, &cpu);
    pclose(p);
    fs::remove(list);
    if (got != 4 || seconds <= 0 || cpu <= 0) return {};
    *records = static_cast<std::size_t>(r) / static_cast<std::size_t>(std::max(passes, 1));
    return {static_cast<double>(n) / cpu, static_cast<double>(n) / seconds};
}

}  // namespace

int main(int argc, char** argv) {
    fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::path("/work/shared/corpus/emails");
    int passes = argc > 2 ? std::atoi(argv[2]) : 50;
    if (passes <= 0) passes = 1;
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.path().extension() == ".eml") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        std::cerr << "bounce_bench: no *.eml in " << dir << "\n";
        return 1;
    }
    std::vector<std::string> messages;
    std::size_t bytes = 0;
    for (const fs::path& f : files) {
        messages.push_back(ReadFile(f));
        bytes += messages.back().size();
    }
    // Warm-up (rules compiled, caches filled), and the record count.
    std::size_t records = 0;
    for (const std::string& m : messages) {
        auto r = rebound::bounce::Parse(m);
        if (r.ok()) records += r->records.size();
    }
    auto t0 = std::chrono::steady_clock::now();
    double c0 = ThreadCpuSeconds();
    std::size_t checksum = 0;
    for (int p = 0; p < passes; ++p) {
        for (const std::string& m : messages) {
            auto r = rebound::bounce::Parse(m);
            if (r.ok()) checksum += r->records.size();
        }
    }
    double cpu = ThreadCpuSeconds() - c0;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double n = static_cast<double>(messages.size()) * passes;
    double rate = n / cpu;
    std::printf("corpus: %zu messages, %.1f KiB, %zu records per pass\n", messages.size(), bytes / 1024.0, records);
    std::printf(
        "rebound::bounce::Parse: %d passes, %.0f messages, %.3f s CPU = %.0f messages/s per core (%.1f us/message, "
        "%.1f MiB/s); wall %.3f s = %.0f messages/s\n",
        passes, n, cpu, rate, 1e6 * cpu / n, bytes * static_cast<double>(passes) / cpu / (1 << 20), seconds,
        n / seconds);
    if (checksum != records * static_cast<std::size_t>(passes)) {
        std::printf("warning: record count varied between passes\n");
    }
    if (argc > 3 && std::string(argv[3]) == "--no-sisimai") return 0;
    int sisimai_passes = std::max(2, passes / 10);
    std::size_t sisimai_records = 0;
    Rate sisimai = SisimaiRate(files, sisimai_passes, &sisimai_records);
    if (sisimai.cpu <= 0) {
        std::printf("Sisimai: not available (perl -MSisimai failed); no ratio\n");
        return 0;
    }
    std::printf(
        "Sisimai (Debian libsisimai-perl, one Perl process): %d passes = %.0f messages/s per core (CPU time), "
        "%.0f messages/s wall; %zu records per pass\n",
        sisimai_passes, sisimai.cpu, sisimai.wall, sisimai_records);
    std::printf("ratio rebound/Sisimai per core (CPU time): %.1fx; wall: %.1fx (goal >= 50x)\n", rate / sisimai.cpu,
                (n / seconds) / sisimai.wall);
    return 0;
}
