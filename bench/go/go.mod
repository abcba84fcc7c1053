module gort.local/bench

go 1.19
