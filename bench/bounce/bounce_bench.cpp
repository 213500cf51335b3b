// bounce_bench [CORPUS_DIR] [PASSES] [--no-sisimai] [--min-seconds=S]
//
// Parses every *.eml of CORPUS_DIR (default /work/shared/corpus/emails) on this thread and prints
// messages/s: at least PASSES passes (default 50), and more until the timed passes have used at least
// S seconds of CPU time (default 1; 0 for exactly PASSES passes, e.g. under callgrind), so that a rate
// does not come from a run too short to measure; the passes run are printed. Then it runs Debian's
// Sisimai (libsisimai-perl) over the same files in one Perl process, at least max(2, PASSES / 10)
// passes and as many more as S seconds of CPU time take, timed inside Perl after one untimed warm-up
// pass (Sisimai loads its modules lazily; our side is warmed up too), and prints its rate and the
// seconds each side ran. Our side then runs again, and the ratio takes the mean of our two runs, so
// that the machine's speed drifting during the runs counts for neither side. Run it pinned to one
// core (taskset -c 0) for a one-core figure.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
    double cpu_seconds = 0;  // the timed run's length
};

double ThreadCpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Rate SisimaiRate(const std::vector<fs::path>& files, int passes, double min_seconds, int* passes_run,
                 std::size_t* records) {
    fs::path list = fs::temp_directory_path() / "rebound_bounce_bench_files.txt";
    {
        std::ofstream out(list);
        for (const fs::path& f : files)
            out << f.string() << "\n";
    }
    // As our side: at least `passes` passes, and whole passes until `min_seconds` of CPU time.
    std::string cmd =
        "perl -MSisimai -MTime::HiRes=time -e '"
        "open(my $fh, \"<\", $ARGV[0]) or die; chomp(my @f = <$fh>); my ($passes, $min) = ($ARGV[1], $ARGV[2]);"
        "for my $p (@f) { Sisimai->make($p) }"  // warm-up: Sisimai loads its modules lazily
        "my ($n, $r, $run, $cpu) = (0, 0, 0, 0); my $t0 = time; my @c0 = times;"
        "while ($run < $passes || $cpu < $min) {"
        " for my $p (@f) { my $v = Sisimai->make($p); $r += scalar(@$v) if $v; $n++ }"
        " $run++; my @c1 = times; $cpu = ($c1[0] - $c0[0]) + ($c1[1] - $c0[1]); }"
        "my $dt = time - $t0;"
        "printf(\"%d %d %.6f %.6f %d\\n\", $n, $r, $dt, $cpu, $run);' " +
        list.string() + " " + std::to_string(passes) + " " + std::to_string(min_seconds) + " 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return {};
    long n = 0, r = 0;
    double seconds = 0, cpu = 0;
    int run = 0;
    int got = std::fscanf(p, "%ld %ld %lf %lf %d", &n, &r, &seconds, &cpu, &run);
    pclose(p);
    fs::remove(list);
    if (got != 5 || seconds <= 0 || cpu <= 0 || run <= 0) return {};
    *passes_run = run;
    *records = static_cast<std::size_t>(r) / static_cast<std::size_t>(run);
    return {static_cast<double>(n) / cpu, static_cast<double>(n) / seconds, cpu};
}

struct OurRun {
    double cpu = 0;   // messages/s by this thread's CPU time
    double wall = 0;  // messages/s by the clock
    double cpu_seconds = 0;
    double wall_seconds = 0;
    int runs = 0;
    std::size_t checksum = 0;  // records over all passes
};

// rebound::bounce::Parse over `messages`: at least `passes` passes, and whole passes until
// `min_seconds` of CPU time have gone by (the clock is read once per pass, a few hundred messages).
OurRun OurRate(const std::vector<std::string>& messages, int passes, double min_seconds) {
    OurRun out;
    auto t0 = std::chrono::steady_clock::now();
    double c0 = ThreadCpuSeconds();
    constexpr int kMaxPasses = 1000000;
    while ((out.runs < passes || out.cpu_seconds < min_seconds) && out.runs < kMaxPasses) {
        for (const std::string& m : messages) {
            auto r = rebound::bounce::Parse(m);
            if (r.ok()) out.checksum += r->records.size();
        }
        ++out.runs;
        out.cpu_seconds = ThreadCpuSeconds() - c0;
    }
    out.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double n = static_cast<double>(messages.size()) * out.runs;
    out.cpu = n / out.cpu_seconds;
    out.wall = n / out.wall_seconds;
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    // Positional CORPUS_DIR and PASSES; the options anywhere (--no-sisimai was only ever third).
    std::vector<std::string> positional;
    bool sisimai_wanted = true;
    double min_seconds = 1.0;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--no-sisimai") {
            sisimai_wanted = false;
        } else if (arg.starts_with("--min-seconds=")) {
            min_seconds = std::atof(arg.c_str() + std::strlen("--min-seconds="));
        } else if (arg.starts_with("--")) {
            std::cerr << "usage: bounce_bench [CORPUS_DIR] [PASSES] [--no-sisimai] [--min-seconds=S]\n";
            return 2;
        } else {
            positional.push_back(arg);
        }
    }
    fs::path dir = positional.size() > 0 ? fs::path(positional[0]) : fs::path("/work/shared/corpus/emails");
    int passes = positional.size() > 1 ? std::atoi(positional[1].c_str()) : 50;
    if (passes <= 0) passes = 1;
    if (!(min_seconds >= 0)) min_seconds = 0;
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
    auto ours = OurRate(messages, passes, min_seconds);
    const double n = static_cast<double>(messages.size()) * ours.runs;
    std::printf("corpus: %zu messages, %.1f KiB, %zu records per pass\n", messages.size(), bytes / 1024.0, records);
    std::printf(
        "rebound::bounce::Parse: %d passes (asked %d, at least %.2f s CPU), %.0f messages, %.3f s CPU = %.0f "
        "messages/s per core (%.1f us/message, %.1f MiB/s); wall %.3f s = %.0f messages/s\n",
        ours.runs, passes, min_seconds, n, ours.cpu_seconds, ours.cpu, 1e6 / ours.cpu,
        bytes * ours.cpu / static_cast<double>(messages.size()) / (1 << 20), ours.wall_seconds, ours.wall);
    if (ours.checksum != records * static_cast<std::size_t>(ours.runs)) {
        std::printf("warning: record count varied between passes\n");
    }
    if (!sisimai_wanted) return 0;
    int sisimai_passes = std::max(2, passes / 10);
    std::size_t sisimai_records = 0;
    int sisimai_run = 0;
    Rate sisimai = SisimaiRate(files, sisimai_passes, min_seconds, &sisimai_run, &sisimai_records);
    if (sisimai.cpu <= 0) {
        std::printf("Sisimai: not available (perl -MSisimai failed); no ratio\n");
        return 0;
    }
    std::printf(
        "Sisimai (Debian libsisimai-perl, one Perl process): %d passes (asked %d, at least %.2f s CPU), %.3f s CPU = "
        "%.0f messages/s per core (CPU time), %.0f messages/s wall; %zu records per pass\n",
        sisimai_run, sisimai_passes, min_seconds, sisimai.cpu_seconds, sisimai.cpu, sisimai.wall, sisimai_records);
    // Measured again after Sisimai, against the mean of both: the machine's speed drifts (other
    // load, CPU frequency), and a drift between two runs in sequence would count for one side.
    auto again = OurRate(messages, passes, min_seconds);
    std::printf(
        "rebound::bounce::Parse again, after Sisimai: %d passes, %.0f messages/s per core; wall %.0f messages/s\n",
        again.runs, again.cpu, again.wall);
    const double mean_cpu = (ours.cpu + again.cpu) / 2;
    const double mean_wall = (ours.wall + again.wall) / 2;
    std::printf(
        "ratio rebound/Sisimai per core (CPU time, rebound the mean of its runs before and after): %.1fx (%.1fx, "
        "%.1fx); wall: %.1fx (goal >= 50x)\n",
        mean_cpu / sisimai.cpu, ours.cpu / sisimai.cpu, again.cpu / sisimai.cpu, mean_wall / sisimai.wall);
    return 0;
}
