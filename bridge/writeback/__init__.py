"""Write-back: proposed field values -> only the fields that really change -> sObject
Collections updates of up to 200 records -> per-record outcomes (route logs, dead letters)."""
