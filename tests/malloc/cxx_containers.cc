// A C++ program on the standard containers, threads included: its output
// must not depend on the allocator underneath new and delete.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

// Allocated before main, by static constructors.
static std::vector<std::string> early(1000, std::string(100, 'e'));
static std::map<int, std::string> early_map = {{1, std::string(500, 'a')},
    {2, std::string(5000, 'b')}};

static long work(int seed) {
	std::map<int, std::string> m;
	std::unordered_map<std::string, std::vector<int>> u;
	long sum = 0;
	for (int i = 0; i < 100000; i++) {
		int k = (i * 7919 + seed) % 20011;
		m[k] = std::to_string(k * 3);
		u[m[k]].push_back(i);
		if (i % 3 == 0)
			m.erase((k * 31) % 20011);
	}
	for (auto &[k, v] : m)
		sum += k + (long)v.size();
	for (auto &[k, v] : u)
		sum += (long)v.size() * (long)k.size();
	std::vector<std::unique_ptr<std::string>> owned;
	for (int i = 0; i < 50000; i++)
		owned.push_back(std::make_unique<std::string>(i % 97, 'k'));
	std::sort(owned.begin(), owned.end(),
	    [](auto &a, auto &b) { return a->size() < b->size(); });
	return sum + (long)owned.front()->size() + (long)owned.back()->size();
}

int main() {
	std::vector<long> results(4);
	std::vector<std::thread> ts;
	for (int t = 0; t < 4; t++)
		ts.emplace_back([&results, t] { results[t] = work(t); });
	for (auto &t : ts)
		t.join();
	for (long r : results)
		std::cout << r << "\n";
	std::cout << early.size() + early[999].size() + early_map[2].size() << "\n";
	return 0;
}
