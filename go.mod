module github.com/fawkes-rt/fawkes

go 1.26
