from services.poller.app import main

main()
