from bulkgraph.cli import main

main()
