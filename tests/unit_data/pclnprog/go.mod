module example.com/pclnprog

go 1.19
