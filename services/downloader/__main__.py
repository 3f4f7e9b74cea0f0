from services.downloader.app import main

main()
